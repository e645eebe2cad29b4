import { useState } from "react";
import { api } from "../api/endpoints";
import { useDocumentTitle } from "../router";
import { Empty, ErrorBox, formatTime, Spinner, useAsync } from "../ui";

export function Credits() {
  useDocumentTitle("Credits");
  const balance = useAsync(() => api.credits(), []);
  const [page, setPage] = useState(1);
  const txs = useAsync(() => api.transactions(page), [page]);
  return (
    <div>
      <h1>Credits</h1>
      {balance.loading && !balance.data ? (
        <Spinner />
      ) : balance.error ? (
        <ErrorBox error={balance.error} retry={balance.reload} />
      ) : (
        <div className="card balance">
          <span className="muted">Balance</span>
          <strong className="balance-value" data-testid="balance">
            {balance.data?.credits.toLocaleString()}
          </strong>
          {!balance.data?.enabled && <span className="muted">Credits are off on this server: runs are not metered.</span>}
        </div>
      )}
      <h2>Transactions</h2>
      {txs.loading && !txs.data ? (
        <Spinner />
      ) : txs.error ? (
        <ErrorBox error={txs.error} retry={txs.reload} />
      ) : !txs.data?.items.length ? (
        <Empty>No transactions yet.</Empty>
      ) : (
        <>
          <div className="table-wrap">
            <table className="table">
              <thead>
                <tr>
                  <th scope="col">When</th>
                  <th scope="col">Type</th>
                  <th scope="col">Amount</th>
                  <th scope="col">Balance after</th>
                  <th scope="col">Details</th>
                </tr>
              </thead>
              <tbody>
                {txs.data.items.map((t) => (
                  <tr key={t.id}>
                    <td data-label="When">{formatTime(t.created_at)}</td>
                    <td data-label="Type">{t.type}</td>
                    <td data-label="Amount" className={t.amount < 0 ? "text-error num" : "num"}>
                      {t.amount > 0 ? `+${t.amount}` : t.amount}
                    </td>
                    <td data-label="Balance after" className="num">
                      {t.running_balance}
                    </td>
                    <td data-label="Details" className="small">
                      {String((t.metadata as Record<string, unknown>).reason ?? (t.metadata as Record<string, unknown>).block_name ?? "")}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          {txs.data.pagination.total_pages > 1 && (
            <nav className="pager" aria-label="Pages">
              <button type="button" className="btn btn-small" disabled={page <= 1} onClick={() => setPage(page - 1)}>
                Newer
              </button>
              <span>
                page {page} of {txs.data.pagination.total_pages}
              </span>
              <button type="button" className="btn btn-small" disabled={page >= txs.data.pagination.total_pages} onClick={() => setPage(page + 1)}>
                Older
              </button>
            </nav>
          )}
        </>
      )}
    </div>
  );
}
