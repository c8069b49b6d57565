"""Zone policy and state: permits, access, air, position, identity, the journal."""
