"""Local Apache OpenWhisk emulator for the App Builder bundle.

The OpenWhisk core (manifest, runtime, activations, sequences, web actions, controller) has no
Flask in it, so the HTTP layer (`emulator.app`) and the tests drive the same code.
"""
