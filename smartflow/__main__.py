from smartflow.cli import main

main()
