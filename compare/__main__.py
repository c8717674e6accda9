import sys

from compare.race.cli import main

sys.exit(main())
