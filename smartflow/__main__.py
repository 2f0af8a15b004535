from smartflow.cli.main import main

main()
