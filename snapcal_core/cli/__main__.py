from snapcal_core.cli import main

main()
