import sys

from cockpit.commands.cli import main

sys.exit(main())
