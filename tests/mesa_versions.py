"""What differs between the Mesa versions the package supports, for the tests that see it.

Mesa 3.3.1 (Python 3.11) and Mesa 3.5 (Python >= 3.12) differ where Mesa itself shows through:
SolaraViz's counter ("Step: 3" against "Time: 3.0") and ``batch_run`` (see the README's "Mesa
versions" section).
"""

import mesa
from packaging.version import Version

MESA = Version(mesa.__version__)
# Mesa 3.5: Model.scenario and Model.time, batch_run's rng= and exact step count.
MESA_35 = MESA >= Version("3.5")


def counter(day: int) -> str:
    """The text of SolaraViz's step counter after ``day`` steps."""
    return f"Time: {float(day)}" if MESA_35 else f"Step: {day}"
