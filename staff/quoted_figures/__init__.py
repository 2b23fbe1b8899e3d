"""The run figures that the solution's answers and prose quote, checked against a run.

Training results change from run to run: another seed, another BLAS kernel or another
thread count changes the rounding, and training amplifies it. So an answer or a prose
cell of the solution never copies a figure of its own run; it refers to the printout, or
it quotes a range that held over several seeds and both thread settings. Every such
range is listed once, in quotes.py, with the words that quote it and the figure it
describes. The cells that print those figures also record them by name
(cs231n/run_figures.py); the notebook runner keeps what a run recorded in the executed
notebook's metadata, and the check reads it from there:

    python -m staff.quoted_figures check DIR         # DIR holds executed notebooks
    python -m staff.quoted_figures measure OUT_DIR [NOTEBOOK ...] [--offsets 0,1,2]
                                                     [--threads 1,2] [--jobs 2]

``check`` (check.py) compares each quoted range with the figure the executed notebook
recorded (CI runs it on the notebooks executed in full on the partial CIFAR-10 copy).
``measure`` (measure.py) runs the notebooks with every random seed in their code cells
shifted by each offset (``np.random.seed(231)`` becomes ``np.random.seed(232)`` for offset
1), at each thread count, and prints the lowest and highest value of every figure beside
its quoted range: that is how the ranges were chosen.

``source_problems`` (check.py, run by the tests, no execution needed) keeps the table
honest: each quote must still be in an answer or solution-only cell of its notebook, a
code cell of that notebook must record the figures it reads, the numbers a quote states
must lie in its range, and every percentage in an answer or a solution-only cell must be
either a listed quote or listed as no run figure at all (a bar, a hyperparameter).
"""
