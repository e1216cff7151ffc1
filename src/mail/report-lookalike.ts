/**
 * Whether an Inbox message is worth fetching as a delivery report, from what Graph's delta lists
 * of it, before its MIME is read. Exchange Online files the reports it generates with their own
 * message class (PR_MESSAGE_CLASS; MS-OXOMSG 2.2.2.1: `REPORT.<original class>.<receipt type>`):
 * REPORT.IPM.Note.NDR for a non-delivery report, .DR for a delivery receipt, .Delayed for a delay
 * notification, .Relayed for a relay notice. Read receipts (.IPNRN, .IPNNRN) are reports too, but
 * not about delivery. A person's mail about a bounce (a forwarded NDR) is IPM.Note and is skipped.
 * When Graph returns no class at all, Exchange's own subject prefixes from a system sender stand
 * in for it. What is fetched must still parse as multipart/report; delivery-status
 * (src/mail/delivery-report.ts) and name a message exosend sent before it changes anything.
 */
export function looksLikeDeliveryReport(item: { messageClass?: string; subject?: string; from?: string }): boolean {
  if (item.messageClass) return deliveryReportClass.test(item.messageClass.trim());
  return reportSubject.test(item.subject ?? '') && systemSender.test(item.from ?? '');
}

const deliveryReportClass = /^REPORT\.IPM\.Note\.(NDR|DR|Delayed|Relayed)$/i;
const reportSubject = /^(Undeliverable|Delivery delayed|Delivered|Relayed):/i;
const systemSender = /^(postmaster|mailer-daemon|microsoftexchange[0-9a-f]*)@/i;
