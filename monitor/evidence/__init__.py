"""Evidence for platform appeals (申诉) and the reconciliation of platform penalties
(docs/evidence-and-penalties.md): the facts of one order, the judgement of a charge against
them, the pack (HTML, PDF, the carrier's bodies as received, a manifest of hashes), and the
penalty lines imported from the platforms' exports."""
