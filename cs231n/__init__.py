"""Helper package for the CS231n Assignment 2 notebooks."""
