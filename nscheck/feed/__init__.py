"""Signature feed: signed bundles of ``signatures/``, verified and switched in atomically.

Bulletins arrive every few weeks; a scanner whose knowledge only moves with its code is wrong
within weeks. So the rule data is updated on its own, like grype's or trivy's databases:

- ``bundle``  the bundle format: a tar.gz of ``signatures/`` plus ``manifest.json`` (set version,
              date, minimum nscheck version, SHA-256 of every file) and ``manifest.sig`` (a
              detached Ed25519 signature over the manifest's exact bytes). Building and verifying.
- ``keys``    the public keys nscheck trusts (shipped in the package; more by explicit opt-in).
- ``store``   verified sets on disk (one directory per version under the user data directory),
              the ``active``/``previous`` pointers switched atomically, status and rollback.
- ``update``  the ``nscheck signatures update`` pipeline: fetch → verify → lint → activate.

Nothing from a bundle is trusted before its signature verifies, and a refused bundle never
touches the active set.
"""
