// Monthly clearing: what the issuer owes the acquirer, what each merchant is paid, the acquirer's fees and the
// terminal usage fees, per calendar month of business dates. See README.md beside this file.
export { runClearing, closePeriod, periodStatus, listPeriods, periodFiles, runFiles, currentRunId, closeRefusal, type RunResult, type RunOptions, type PeriodStatus } from './run.js';
export { feeFen, proRataFen, averageFeeRate, fenPerPoint, steps, ControlTotalError, type ClearingParams, type Totals, type ControlTotals, type Step } from './compute.js';
export { parsePeriod, periodPhase, closableFrom, notStarted, notEnded, PeriodError, type Period } from './periods.js';
export { merchantColumns, feeLineColumns, terminalColumns, type FileInfo } from './files.js';
