from simulators.runner import main

main()
