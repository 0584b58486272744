from ecoin_assets.cli import main

main()
