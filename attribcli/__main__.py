from attribcli.cli import main

main()
