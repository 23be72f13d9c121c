"""Messages stored as message ids with their values, translated when they are read
(into the reader's language, not that of the worker that wrote them): the reasons
of the automated checks, notifications, the disclosure checklist's hints, what a
pricing change makes worse."""

from collections.abc import Mapping

from django.utils.translation import gettext


def render_message(message_id: str, params: Mapping[str, object] | None = None) -> str:
    """``message_id`` in the active language, its placeholders filled from
    ``params``. A list or tuple among the values holds message ids of its own (the
    names of what is missing, say), each translated and joined with commas."""
    message = gettext(message_id)
    if not params:
        return message
    values = {
        key: ", ".join(gettext(str(part)) for part in value)
        if isinstance(value, list | tuple)
        else value
        for key, value in params.items()
    }
    return message % values
