"""Lets the tests import the plugin and the SDK from the source tree without installing them."""

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(HERE), str(HERE.parent.parent / "guest-sdk" / "python")]
