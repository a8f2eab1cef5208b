"""The project's settings, read after the test environment is prepared.
No setting is declared here: the environment alone changes behaviour."""

import tests.embedded_services  # noqa: F401  (must run first)
from config.settings import *  # noqa: F403
