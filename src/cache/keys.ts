// Redis key layout. Every key starts with the configured prefix; card keys are hash-tagged by card ({card})
// so a Redis Cluster keeps one card's keys on one slot and spreads cards across slots.
export const cacheKeys = {
  card: (prefix: string, cardNo: string) => `${prefix}card:{${cardNo}}`,
  terminal: (prefix: string, terminalId: string) => `${prefix}terminal:{t${terminalId}}`,
  merchant: (prefix: string, merchantId: string) => `${prefix}merchant:{m${merchantId}}`,
};
