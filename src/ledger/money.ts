// The requests that move points or read a balance, judged in order (amount, terminal, merchant, card) and
// answered as Outcome values. A purchase reads top to bottom in purchase(); its SQL is in debits.ts.
import type { Logger } from '../log.js';
import type { CardCache } from './card-cache.js';
import { businessDateOf, cardDecline } from './card-rules.js';
import type { DebitItem, Debits } from './debits.js';
import type { Kek } from './kek.js';
import { declined, systemError, toApproval } from './outcomes.js';
import { pointsFor } from './points.js';
import type { Reference } from './reference.js';
import type { Approval, CreditRequest, Outcome, PurchaseRequest, RefundRequest, ReversalRequest, VoidRequest } from './types.js';

export class Money {
  constructor(
    private readonly reference: Reference,
    private readonly cards: CardCache,
    private readonly debits: Debits,
    private readonly kek: Kek,
    private readonly log: Logger,
  ) {}

  async balance(r: { cardNo: string; terminalId: string; pin?: string | null }): Promise<Outcome<{ balancePoints: number }>> {
    try {
      const t = await this.reference.binding(r.terminalId);
      if (!t || t.status !== 'active') return declined({ kind: 'terminal-not-permitted' });
      const card = await this.cards.card(r.cardNo);
      const d = cardDecline(card, businessDateOf(), this.pvv(r.cardNo, r.pin));
      if (d || !card) return declined(d ?? { kind: 'unknown-card' });
      return { ok: true, balancePoints: card.balancePoints };
    } catch (err) {
      return systemError(this.log, 'balance', err);
    }
  }

  /** The hot path: the memo answers terminal and merchant without a promise when fresh, so most purchases await only their debit. */
  async purchase(r: PurchaseRequest): Promise<Outcome<Approval>> {
    try {
      if (!Number.isSafeInteger(r.amountFen) || r.amountFen <= 0) return declined({ kind: 'invalid-amount' });
      const c = this.reference.checkTerminal(r.key.terminalId, r.merchantId);
      const refused = c instanceof Promise ? await c : c;
      if (refused) return declined(refused);
      const m = this.reference.merchantForDebit(r.merchantId);
      const merchant = m instanceof Promise ? await m : m;
      if (!merchant || merchant.status !== 'active') return declined({ kind: 'invalid-merchant' });
      const points = pointsFor(r.amountFen, merchant.pointsPerYuan);
      // A purchase that obviously cannot succeed is declined without locking its card or joining a batch. Its
      // decline is stored under its key like any answer (a retransmission gets the same), unless the key holds an
      // answer already: a retry of an approved purchase gets its stored approval, not a decline from a newer balance.
      const pre = this.cards.cannotPay(r.cardNo, r.key.businessDate, points);
      const hopeless = pre === null ? null : await pre;
      if (hopeless) {
        const stored = await this.debits.storeDecline(r.key, r.cardNo, r.amountFen, r.merchantId, merchant.pointsPerYuan, hopeless);
        return toApproval(stored ?? { ok: false, decline: hopeless });
      }
      const item: DebitItem = { key: r.key, merchantId: r.merchantId, cardNo: r.cardNo, amountFen: r.amountFen, pvv: this.pvv(r.cardNo, r.pin) };
      const out = await this.debits.debit(item);
      this.cards.saw(r.cardNo, out);
      return toApproval(out);
    } catch (err) {
      return systemError(this.log, 'purchase', err);
    }
  }

  async void(r: VoidRequest): Promise<Outcome<Approval>> {
    try {
      const refused = await this.reference.checkTerminal(r.key.terminalId, r.merchantId);
      if (refused) return declined(refused);
      return toApproval(await this.debits.void(r));
    } catch (err) {
      return systemError(this.log, 'void', err);
    }
  }

  async refund(r: RefundRequest): Promise<Outcome<Approval>> {
    try {
      if (!Number.isSafeInteger(r.amountFen) || r.amountFen <= 0) return declined({ kind: 'invalid-amount' });
      const refused = await this.reference.checkTerminal(r.key.terminalId, r.merchantId);
      if (refused) return declined(refused);
      return toApproval(await this.debits.refund(r));
    } catch (err) {
      return systemError(this.log, 'refund', err);
    }
  }

  /** Undoes a purchase, void or refund by the original's key, exactly once, before or after it arrives. */
  async reverse(r: ReversalRequest): Promise<Outcome<{ reversed: boolean }>> {
    try {
      const out = await this.debits.reverse(r);
      if (!out.ok) return declined(out.decline ?? { kind: 'system-error', detail: 'reversal' });
      return { ok: true, reversed: out.reversed === true };
    } catch (err) {
      return systemError(this.log, 'reverse', err);
    }
  }

  async credit(r: CreditRequest): Promise<Outcome<{ balancePoints: number; replayed: boolean }>> {
    try {
      if (!Number.isSafeInteger(r.points) || r.points <= 0) return declined({ kind: 'invalid-amount' });
      const out = await this.debits.credit(r);
      if (!out.ok) return declined(out.decline ?? { kind: 'system-error', detail: 'credit' });
      return { ok: true, balancePoints: out.balancePoints ?? 0, replayed: out.replayed === true };
    } catch (err) {
      return systemError(this.log, 'credit', err);
    }
  }

  private pvv(cardNo: string, pin: string | null | undefined): string | null {
    return pin ? this.kek.pinVerification(cardNo, pin) : null;
  }
}
