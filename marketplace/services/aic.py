"""ACPs identity codes (AIC) of agents: given once, under the operator's arc, when a
version of the agent is first approved for publication; never changed afterwards
(see marketplace/protocols/acps.py for the code's structure)."""

from django.db import transaction

from marketplace.models import Agent, AgentEvent, User
from marketplace.protocols import acps


@transaction.atomic
def agent_assign_aic(*, agent: Agent, actor: User | None) -> str | None:
    """Give ``agent`` its AIC if it has been published and has none yet. Returns the
    agent's code: the one it already had, the new one, or None when no arc is
    configured (or the agent was never published). Idempotent."""
    locked = Agent.objects.select_for_update().get(pk=agent.pk)
    if locked.aic:
        agent.aic = locked.aic
        return locked.aic
    if locked.published_at is None:
        return None
    code = acps.aic_for(locked)
    if code is None:
        return None
    Agent.objects.filter(pk=locked.pk, aic__isnull=True).update(aic=code)
    AgentEvent.objects.create(
        agent=locked,
        actor=actor,
        action="aic_assigned",
        payload={"aic": code},
    )
    agent.aic = code
    return code
