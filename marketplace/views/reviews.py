"""Review pages: writing a review, a review's own page, the publisher's reply,
flagging, and the moderators' queue. The reviews section of the agent page is the
``agent_reviews`` tag of the ``review_tags`` library."""

from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ObjectDoesNotExist, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from config.exceptions import ApplicationError
from config.pagination import CappedPaginator
from marketplace.auth import signed_in_user
from marketplace.exceptions import PermissionDenied
from marketplace.forms import (
    ReviewFlagForm,
    ReviewModerationForm,
    ReviewReplyForm,
    ReviewWriteForm,
)
from marketplace.models import Agent, Review, ReviewReply, User
from marketplace.selectors.agents import agent_get_visible
from marketplace.selectors.reviews import (
    MODERATION_VIEWS,
    moderation_queue,
    review_can_reply,
    review_flagged_ids,
    review_get,
    review_hidden_reason,
    review_of_user,
    review_signals_by_agent,
    review_visible_to,
)
from marketplace.services import reviews as review_services
from marketplace.services.publishing import is_reviewer
from marketplace.views.errors import add_service_error, run_action

MODERATION_PAGE_SIZE = 20


def _visible_agent(request: HttpRequest, publisher: str, agent: str) -> Agent:
    return agent_get_visible(user=request.user, publisher=publisher, agent=agent)


def _review_of(request: HttpRequest, agent: Agent, review_id: int) -> Review:
    review = review_get(review_id=review_id)
    if (
        review is None
        or review.agent_id != agent.pk
        or not review_visible_to(user=request.user, review=review)
    ):
        raise Http404
    return review


def _agent_page(agent: Agent, review: Review | None = None) -> str:
    url = reverse(
        "agent-detail", kwargs={"publisher": agent.publisher.slug, "agent": agent.slug}
    )
    return f"{url}#review-{review.pk}" if review else f"{url}#reviews"


def _shown(form: Any, error: ApplicationError | ValidationError) -> int:
    """Show a service's error on the form; the status the page answers with (400,
    409 for a conflict, 429 when rate-limited)."""
    add_service_error(form, error)
    return error.status_code if isinstance(error, ApplicationError) else 400


@login_required
def review_write(request: HttpRequest, publisher: str, agent: str) -> HttpResponse:
    """Write a review, or edit yours."""
    user = signed_in_user(request.user)
    found = _visible_agent(request, publisher, agent)
    # Denies (403, with the reason) anyone who has not installed the agent.
    install = review_services.review_check_eligible(user=user, agent=found)
    own = review_of_user(user=user, agent=found)
    initial = (
        {"stars": str(own.stars), "title": own.title, "body": own.body} if own else {}
    )
    form = ReviewWriteForm(request.POST or None, initial=initial)
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            try:
                review = review_services.review_submit(
                    user=user, agent=found, **form.cleaned_data
                )
            except PermissionDenied:
                raise
            except (ApplicationError, ValidationError) as error:
                status = _shown(form, error)
            else:
                messages.success(
                    request,
                    _("Your review was updated.")
                    if own
                    else _("Your review was published."),
                )
                return redirect(_agent_page(found, review))
    return render(
        request,
        "marketplace/reviews/write.html",
        {"agent": found, "form": form, "own_review": own, "install": install},
        status=status,
    )


def review_detail(
    request: HttpRequest, publisher: str, agent: str, review_id: int
) -> HttpResponse:
    """A review's own page (the link in notifications)."""
    found = _visible_agent(request, publisher, agent)
    review = _review_of(request, found, review_id)
    user = request.user
    return render(
        request,
        "marketplace/reviews/detail.html",
        {
            "agent": found,
            "review": review,
            "can_reply": review_can_reply(user=user, agent=found),
            "flagged": review_flagged_ids(user=user, reviews=[review]),
            "signed_in": isinstance(user, User),
            "hidden_reason": (
                review_hidden_reason(review=review)
                if review.state == Review.State.HIDDEN
                else ""
            ),
        },
    )


@login_required
def review_reply_page(
    request: HttpRequest, publisher: str, agent: str, review_id: int
) -> HttpResponse:
    """The publisher's reply to a review (for its members), or an edit of it."""
    user = signed_in_user(request.user)
    found = _visible_agent(request, publisher, agent)
    review = _review_of(request, found, review_id)
    if not review_can_reply(user=user, agent=found):
        raise PermissionDenied(
            _("Only members of %(publisher)s can reply to reviews of its agents.")
            % {"publisher": found.publisher.name}
        )
    existing = _reply_of(review)
    form = ReviewReplyForm(
        request.POST or None, initial={"body": existing.body if existing else ""}
    )
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            try:
                review_services.review_reply(
                    actor=user, review=review, body=form.cleaned_data["body"]
                )
            except PermissionDenied:
                raise
            except (ApplicationError, ValidationError) as error:
                status = _shown(form, error)
            else:
                messages.success(request, _("Your reply was published."))
                return redirect(_agent_page(found, review))
    return render(
        request,
        "marketplace/reviews/reply.html",
        {"agent": found, "review": review, "form": form, "reply": existing},
        status=status,
    )


def _reply_of(review: Review) -> ReviewReply | None:
    try:
        return review.reply
    except ObjectDoesNotExist:
        return None


@login_required
def review_flag_page(
    request: HttpRequest, publisher: str, agent: str, review_id: int
) -> HttpResponse:
    """Report a review to the moderators."""
    user = signed_in_user(request.user)
    found = _visible_agent(request, publisher, agent)
    review = _review_of(request, found, review_id)
    # The author, or anyone with an unconfirmed address, is told why not (403).
    review_services.review_check_can_flag(user=user, review=review)
    form = ReviewFlagForm(request.POST or None)
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            try:
                review_services.review_flag(
                    user=user, review=review, **form.cleaned_data
                )
            except PermissionDenied:
                raise
            except (ApplicationError, ValidationError) as error:
                status = _shown(form, error)
            else:
                messages.success(
                    request, _("Thank you; the moderators will look at this review.")
                )
                return redirect(_agent_page(found, review))
    return render(
        request,
        "marketplace/reviews/flag.html",
        {"agent": found, "review": review, "form": form},
        status=status,
    )


@login_required
def review_moderation_page(request: HttpRequest) -> HttpResponse:
    """The moderators' queue: flagged reviews, most flagged first, or the hidden
    ones; with the signs of manipulation of each agent."""
    user = signed_in_user(request.user)
    view = request.GET.get("view", "flagged")
    if view not in MODERATION_VIEWS:
        view = "flagged"
    # moderation_queue denies anyone but the operator's reviewers
    queue = moderation_queue(actor=user, view=view)
    page = CappedPaginator(queue, MODERATION_PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    signals = review_signals_by_agent(agent_ids=[r.agent_id for r in page])
    return render(
        request,
        "marketplace/reviews/moderation.html",
        {
            "page": page,
            "items": [(review, signals[review.agent_id]) for review in page],
            "view": view,
            "form": ReviewModerationForm(),
            "query": urlencode({"view": view}),
        },
    )


@login_required
@require_POST
def review_moderate(request: HttpRequest, review_id: int) -> HttpResponse:
    """Hide, restore or keep a review, with the reason; back to the queue."""
    user = signed_in_user(request.user)
    if not is_reviewer(user):
        raise PermissionDenied(_("Only the operator's reviewers moderate reviews."))
    review = review_get(review_id=review_id)
    if review is None:
        raise Http404
    form = ReviewModerationForm(request.POST)
    view = request.POST.get("view", "flagged")
    back = redirect(
        f"{reverse('review-moderation')}?"
        + urlencode({"view": view if view in MODERATION_VIEWS else "flagged"})
    )
    if not form.is_valid():
        messages.error(
            request,
            _("Choose a decision and give the reason; the author is told."),
        )
        return back
    action = form.cleaned_data["action"]
    reason = form.cleaned_data["reason"]
    services = {
        "hide": (review_services.review_hide, _("The review was hidden.")),
        "restore": (review_services.review_restore, _("The review was restored.")),
        "dismiss": (
            review_services.review_flags_dismiss,
            _("The review stays; its flags are closed."),
        ),
    }
    service, success = services[action]
    run_action(
        request,
        lambda: service(actor=user, review=review, reason=reason),
        success,
    )
    return back
