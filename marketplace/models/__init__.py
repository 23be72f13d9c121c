from .accounts import User as User
from .organizations import Invitation as Invitation
from .organizations import Membership as Membership
from .organizations import Organization as Organization
from .organizations import OrganizationEvent as OrganizationEvent
