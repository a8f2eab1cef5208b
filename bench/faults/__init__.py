"""The fault suite (`make faults`; also part of `make bench`): see suite.py."""
