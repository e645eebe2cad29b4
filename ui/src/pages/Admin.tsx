import { useState, type FormEvent } from "react";
import { api } from "../api/endpoints";
import { useUser } from "../auth";
import { useDocumentTitle } from "../router";
import { Empty, ErrorBox, errorText, formatTime, Spinner, toast, useAsync } from "../ui";

export function Admin() {
  useDocumentTitle("Admin");
  const { user } = useUser();
  const [page, setPage] = useState(1);
  const users = useAsync(() => api.users(page), [page]);
  const jobs = useAsync(() => api.jobs(), []);
  const [grantTo, setGrantTo] = useState("");
  const [amount, setAmount] = useState(100);
  if (user.role !== "admin") return <ErrorBox error={new Error("Admins only.")} />;

  const grant = async (e: FormEvent) => {
    e.preventDefault();
    try {
      const posting = await api.grant({ user_id: grantTo.trim(), amount, type: "GRANT", reason: "granted in the web app" });
      toast(`Granted ${amount}; balance ${posting.balance}`);
    } catch (exc) {
      toast(errorText(exc), "error");
    }
  };
  const runJob = async (name: string) => {
    try {
      const job = await api.runJob(name);
      toast(`${name}: ${job.last_outcome ?? "done"}`);
      jobs.reload();
    } catch (exc) {
      toast(errorText(exc), "error");
    }
  };

  return (
    <div>
      <h1>Admin</h1>
      <section>
        <h2>System jobs</h2>
        {jobs.loading && !jobs.data ? (
          <Spinner />
        ) : jobs.error ? (
          <ErrorBox error={jobs.error} retry={jobs.reload} />
        ) : !jobs.data?.length ? (
          <Empty>No system jobs.</Empty>
        ) : (
          <div className="table-wrap">
            <table className="table">
              <thead>
                <tr>
                  <th scope="col">Job</th>
                  <th scope="col">Cron</th>
                  <th scope="col">Last run</th>
                  <th scope="col">Outcome</th>
                  <th scope="col">Actions</th>
                </tr>
              </thead>
              <tbody>
                {jobs.data.map((j) => (
                  <tr key={j.name}>
                    <td data-label="Job">{j.name}</td>
                    <td data-label="Cron">
                      <code>{j.cron}</code>
                    </td>
                    <td data-label="Last run">{formatTime(j.last_run_at)}</td>
                    <td data-label="Outcome">
                      {j.last_outcome ?? "—"} {j.last_error && <span className="text-error">{j.last_error}</span>}
                    </td>
                    <td data-label="Actions">
                      <button type="button" className="btn btn-small" onClick={() => void runJob(j.name)}>
                        Run now
                      </button>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </section>
      <section>
        <h2>Users</h2>
        <form className="toolbar" onSubmit={grant} aria-label="Grant credits">
          <label className="field field-inline">
            <span>User id</span>
            <input value={grantTo} onChange={(e) => setGrantTo(e.target.value)} required />
          </label>
          <label className="field field-inline">
            <span>Credits</span>
            <input type="number" min={1} value={amount} onChange={(e) => setAmount(Number(e.target.value))} />
          </label>
          <button type="submit" className="btn btn-small">
            Grant
          </button>
        </form>
        {users.loading && !users.data ? (
          <Spinner />
        ) : users.error ? (
          <ErrorBox error={users.error} retry={users.reload} />
        ) : !users.data?.items.length ? (
          <Empty>No users.</Empty>
        ) : (
          <>
            <div className="table-wrap">
              <table className="table">
                <thead>
                  <tr>
                    <th scope="col">Id</th>
                    <th scope="col">Email</th>
                    <th scope="col">Role</th>
                    <th scope="col">Timezone</th>
                    <th scope="col">Created</th>
                  </tr>
                </thead>
                <tbody>
                  {users.data.items.map((u) => (
                    <tr key={u.id}>
                      <td data-label="Id">
                        <button type="button" className="btn btn-link" onClick={() => setGrantTo(u.id)} title="Grant credits to this user">
                          {u.id}
                        </button>
                      </td>
                      <td data-label="Email">{u.email ?? "—"}</td>
                      <td data-label="Role">{u.role}</td>
                      <td data-label="Timezone">{u.timezone}</td>
                      <td data-label="Created">{formatTime(u.created_at)}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
            {users.data.pagination.total_pages > 1 && (
              <nav className="pager" aria-label="Pages">
                <button type="button" className="btn btn-small" disabled={page <= 1} onClick={() => setPage(page - 1)}>
                  Previous
                </button>
                <span>
                  page {page} of {users.data.pagination.total_pages}
                </span>
                <button type="button" className="btn btn-small" disabled={page >= users.data.pagination.total_pages} onClick={() => setPage(page + 1)}>
                  Next
                </button>
              </nav>
            )}
          </>
        )}
      </section>
    </div>
  );
}
