import nh3
from django import template
from django.utils.safestring import SafeString, mark_safe
from markdown_it import MarkdownIt

register = template.Library()

_markdown = MarkdownIt("commonmark", {"html": False, "linkify": False})
_ALLOWED_TAGS = {
    "p", "br", "em", "strong", "code", "pre", "blockquote", "ul", "ol", "li",
    "a", "h3", "h4", "h5", "h6", "hr",
}  # fmt: skip


@register.filter
def markdown(text: str) -> SafeString:
    """Markdown written by publishers, as HTML with only harmless tags: no raw HTML,
    no scripts, links opened without passing the page on."""
    html = _markdown.render(text or "")
    cleaned = nh3.clean(
        html,
        tags=_ALLOWED_TAGS,
        attributes={"a": {"href", "title"}},
        url_schemes={"http", "https", "mailto"},
        link_rel="nofollow noopener noreferrer",
    )
    return mark_safe(cleaned)  # noqa: S308  (sanitised by nh3 just above)


@register.filter
def domain_name(domain: object, language: str) -> str:
    if language == "zh-hans":
        return str(getattr(domain, "name_zh", ""))
    return str(getattr(domain, "name_en", ""))


@register.filter
def deployment_label(code: str) -> str:
    from marketplace.models import Deployment

    return str(dict(Deployment.choices).get(code, code))
