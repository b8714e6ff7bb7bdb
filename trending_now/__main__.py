import sys

from trending_now.cli import main

sys.exit(main())
