import sys

from reelvec.cli import main

sys.exit(main())
