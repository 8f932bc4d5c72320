"""The parts of bench/python_p2p.py: the rank worker and its measurement loops (worker), the
jobs that run them and ring_bw (backends, processes), the tables (report) and the run (driver)."""
