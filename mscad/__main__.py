import sys

try:
    from .experiment.cli import main
except KeyboardInterrupt:  # Ctrl-C while torch is still importing
    print("mscad: interrupted.", file=sys.stderr)
    sys.exit(130)

sys.exit(main())
