"""The compatibility matrix: each framework's app, protected by the generic middleware, on each server.

``make matrix`` runs every pair and writes docs/compatibility.md (``python -m tests.matrix``);
``make test`` runs a representative subset (test_matrix.py).
"""
