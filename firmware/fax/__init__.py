"""The fax unit: memory files (`files`), the transmit header (`header`), the outbox (`outbox`),
sending (`sending`), receiving (`receiving`), what a call leaves in the journal and reports
(`reports`), and the unit that runs them on the line (`service.FaxService`)."""
