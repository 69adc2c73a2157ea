"""People and integrations who use the console and the API: users with roles and camera access, their
sessions, API tokens, and the `Principal` every request and command acts as.

Modules: `principal` (Principal, roles, scopes), `passwords` (argon2id hashing), `store` (UserStore: users,
sessions, tokens in the event store's database), `records` (its values and input checks), `credentials`
(session and token secrets, stored as hashes), `rate_limit` (LoginLimiter), `audit` (its audit rows),
`cli` (`gunwatch user ...` and `gunwatch token ...`).
"""

from __future__ import annotations
