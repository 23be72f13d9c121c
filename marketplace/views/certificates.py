"""The public, machine-readable documents of certification at their stable
addresses: a certificate's signed credential and test report, the status lists, the
issuers' profiles and the schemes' achievement levels."""

import json

from django.http import (
    FileResponse,
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseRedirect,
    JsonResponse,
)
from django.http.response import HttpResponseBase
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.views.decorators.http import require_GET

from marketplace.models import Certificate, IssuerKey, Organization, Scheme
from marketplace.services.credentials import (
    issuer_profile_url,
    jwks_url,
    status_list_document,
)
from marketplace.views.registry import public


@require_GET
def certificate_credential(request: HttpRequest, serial: str) -> HttpResponse:
    """The certificate's Open Badges 3.0 credential as issued: a VC-JWT."""
    certificate = get_object_or_404(
        Certificate.objects.only("credential"), serial=serial
    )
    response = HttpResponse(certificate.credential, content_type="application/vc+jwt")
    response["Content-Disposition"] = f'inline; filename="{serial}.jwt"'
    # The credential never changes; its status is in the status lists.
    return public(response, max_age=86400)


@require_GET
def certificate_report(request: HttpRequest, serial: str) -> HttpResponseBase:
    """The test report the certificate rests on: the uploaded file, or a redirect
    to where the body keeps it."""
    certificate = get_object_or_404(Certificate, serial=serial)
    if certificate.report_file:
        is_pdf = certificate.report_file.name.endswith(".pdf")
        response = FileResponse(
            certificate.report_file.open("rb"),
            as_attachment=True,
            filename=f"{serial}-report.{'pdf' if is_pdf else 'txt'}",
            content_type="application/pdf" if is_pdf else "text/plain; charset=utf-8",
        )
        response["X-Content-Type-Options"] = "nosniff"
        response["Content-Security-Policy"] = "sandbox"
        return response
    if certificate.report_url.startswith("https://"):
        return HttpResponseRedirect(certificate.report_url)
    raise Http404


@require_GET
def status_list(request: HttpRequest) -> HttpResponse:
    """The signed status list (a W3C Bitstring Status List credential): a two-bit
    entry per certificate, 0 valid, 1 suspended, 2 revoked."""
    response = HttpResponse(
        json.dumps(status_list_document(), ensure_ascii=False),
        content_type="application/json",
    )
    # Short: a revocation must reach verifiers soon.
    return public(response, max_age=60)


@require_GET
def body_profile(request: HttpRequest, slug: str) -> HttpResponse:
    """A certification body as an Open Badges issuer Profile, with the keys it
    signs with (current and retired) as JWKs."""
    body = get_object_or_404(
        Organization, slug=slug, kind=Organization.Kind.CERTIFICATION_BODY
    )
    keys = [
        {
            "kty": "OKP",
            "crv": "Ed25519",
            "x": key.public_key,
            "kid": key.kid,
            "use": "sig",
            "alg": "EdDSA",
            **(
                {"retired": key.retired_at.strftime("%Y-%m-%dT%H:%M:%SZ")}
                if key.retired_at
                else {}
            ),
        }
        for key in IssuerKey.objects.filter(organization=body).order_by("pk")
    ]
    profile = {
        "@context": [
            "https://www.w3.org/ns/credentials/v2",
            "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json",
        ],
        "id": issuer_profile_url(body),
        "type": ["Profile"],
        "name": body.name,
        **({"url": body.website} if body.website else {}),
        **({"email": body.contact_email} if body.contact_email else {}),
        "jwks_uri": jwks_url(),
        "keys": keys,
    }
    response = JsonResponse(profile, json_dumps_params={"ensure_ascii": False})
    return public(response, max_age=300)


@require_GET
def scheme_level(request: HttpRequest, code: str, level: str) -> HttpResponse:
    """An achievement's id resolves to its scheme's page."""
    scheme = get_object_or_404(Scheme, code=code)
    if level not in scheme.level_codes:
        raise Http404
    return HttpResponseRedirect(
        reverse("scheme-detail", kwargs={"code": scheme.code}) + f"#level-{level}"
    )
