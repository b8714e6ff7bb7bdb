"""The Great Expectations gate on the audited mart: nothing unchecked reaches the published table."""
