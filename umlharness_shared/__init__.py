"""What the harness and the device models share, and nothing else.

The harness (`umlharness`) boots guests and serves device models; the models
(`simulators`) never import the harness. Both read the facts here: where
instances live and what their records say (`registry`), which process a
record names (`procs`), the rules for unix socket paths (`sockets`), the
backend's ready handshake (`handshake`) and the error every failure meant
for a person derives from (`errors`).
"""
