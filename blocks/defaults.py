"""The block names a flow uses when it is not told otherwise.

One place for them, so that a flow's defaults, the deployments and the test bed's
registration (scripts/testbed/register_blocks.py) cannot drift apart.
"""

DEFAULT_CENTRE = "local-slurm"
# The centres a workflow may be placed on when it names none (both of the test bed's).
DEFAULT_CENTRES = (DEFAULT_CENTRE, "local-slurm-2")
DEFAULT_ARCHIVE = "heroes-archive"
DEFAULT_DATABASE = "heroes-database"
DEFAULT_CATALOG = "heroes-catalog"
DEFAULT_AWS_ACCOUNT = "heroes-aws"
# The Prefect Secret block holding the key the gateway signs run grants with (>= 32 bytes).
DEFAULT_GRANT_KEY = "heroes-grant-key"
# The KeycloakRealm block the heroes command logs in through.
DEFAULT_KEYCLOAK_REALM = "heroes-keycloak"

__all__ = ["DEFAULT_ARCHIVE", "DEFAULT_AWS_ACCOUNT", "DEFAULT_CATALOG", "DEFAULT_CENTRE",
           "DEFAULT_CENTRES", "DEFAULT_DATABASE", "DEFAULT_GRANT_KEY",
           "DEFAULT_KEYCLOAK_REALM"]
