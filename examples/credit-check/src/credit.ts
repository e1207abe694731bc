/** The app's business logic: a toy credit check over the entity's attributes. No I/O. */

export interface CreditInput {
  /** Requested amount, e.g. the opportunity's value. */
  amount?: unknown;
  /** Yearly income of the customer. */
  income?: unknown;
  /** Open debts of the customer. */
  debts?: unknown;
  [attribute: string]: unknown;
}

export interface CreditResult {
  credit_score: number;
  credit_decision: 'approved' | 'review' | 'declined';
  credit_reason: string;
}

const num = (v: unknown): number | undefined => {
  const n = typeof v === 'string' ? Number(v) : v;
  return typeof n === 'number' && Number.isFinite(n) ? n : undefined;
};

/**
 * Scores 300–850 from the ratio of amount and debts to income; `threshold` (an app option) is the
 * lowest score that is approved outright.
 */
export function creditCheck(input: CreditInput, threshold = 650): CreditResult {
  const income = num(input.income);
  const amount = num(input.amount) ?? 0;
  const debts = num(input.debts) ?? 0;
  if (income === undefined || income <= 0) {
    return { credit_score: 300, credit_decision: 'review', credit_reason: 'no income on record' };
  }
  const burden = (amount + debts) / income;
  const score = Math.round(Math.max(300, Math.min(850, 850 - burden * 400)));
  const decision = score >= threshold ? 'approved' : score >= threshold - 100 ? 'review' : 'declined';
  return {
    credit_score: score,
    credit_decision: decision,
    credit_reason: `burden ${(burden * 100).toFixed(0)} % of income, score ${score} vs threshold ${threshold}`,
  };
}
