import sys

from d7tui.cli import main

sys.exit(main())
