import sys
from pathlib import Path

# The test modules import each other's helpers.
sys.path.insert(0, str(Path(__file__).resolve().parent))
