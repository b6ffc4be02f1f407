"""``python -m biodsnn …``: the ``biodsnn`` command, so that ``torchrun … -m biodsnn fit …`` starts it.

The command lives in the ``cli`` layer above this package; it is imported only when this file runs as the program
(an entry point, like the ``biodsnn`` console script), never by ``import biodsnn``.
"""

if __name__ == "__main__":
    from cli.biodsnn import main

    main(prog_name="biodsnn")
