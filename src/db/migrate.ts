// Placeholder replaced by the ledger work: applies migrations/ to a database.
export async function migrate(_databaseUrl: string, _options: { quiet?: boolean } = {}): Promise<void> {}
