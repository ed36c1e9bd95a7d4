from theus_shm._cli import main

main()
