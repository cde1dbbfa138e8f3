//! Group commit of user creates on SQLite.
//!
//! SQLite has one writer. Each `POST /Users` used to be a transaction of its own: `BEGIN`, the
//! row, its `scim_user_values`, `COMMIT`, four hand-offs to sqlx's connection thread, each
//! waiting for the request's task to be scheduled again before the next could start. A profile
//! at about 1.3k creates/s found that thread busy only half the time: the writer waited on the
//! hand-offs, not on SQLite. And every commit wrote the same upper pages of the dozen B-trees a
//! create touches to the write-ahead log again.
//!
//! [`Batcher`] queues the creates that arrive while a transaction is being written and writes
//! them together in the next one: one `BEGIN` and one `COMMIT` for all of them, and each shared
//! page logged once. A create is answered only after the transaction holding it has committed.
//!
//! A create that fails on its own (its `userName` is taken, by a committed user or by one earlier
//! in the same batch) fails alone: SQLite undoes the failed statement only and the transaction
//! goes on. Any other error (I/O, a full disk, a broken connection) rolls the batch back, and each
//! of its creates is then written in a transaction of its own, so that no create fails because
//! of another.
//!
//! The batch runs on a task of its own, so a request that goes away (its client disconnected)
//! does not cancel the others' creates; its own create may still be committed, as it could be
//! before if the client left after the commit.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use http::StatusCode;
use scim_core::ScimError;
use sqlx::{AnyConnection, AnyPool};
use tokio::sync::oneshot;

use crate::error::{db, is_unique_violation};
use crate::store::{Dialect, Sql};
use crate::tenants::KnownTenants;

/// Creates per transaction at most: a bound on how long one commit holds the writer (and on
/// how long the first create of a long queue waits for its answer).
const MAX_BATCH: usize = 64;

/// One user's insert, prepared off the writer: the row, then its `scim_user_values`.
#[derive(Debug)]
pub(crate) struct NewUser {
    /// The tenant the user is created in.
    pub(crate) tenant: String,
    /// `INSERT INTO scim_users ...`.
    pub(crate) row: Sql,
    /// `INSERT INTO scim_user_values ...`, none or more.
    pub(crate) values: Vec<Sql>,
    /// The `userName`, for the uniqueness error.
    pub(crate) user_name: String,
}

/// Why an insert failed.
#[derive(Debug)]
enum Failure {
    /// The row broke a unique index (the tenant already has this `userName`): the user's own
    /// fault, and SQLite undid only that statement.
    Taken,
    /// Anything else.
    Other(sqlx::Error),
}

impl NewUser {
    /// Runs the statements on `conn`, inside the caller's transaction.
    async fn insert(&self, conn: &mut AnyConnection) -> Result<(), Failure> {
        self.row.query().execute(&mut *conn).await.map_err(|e| {
            if is_unique_violation(&e) {
                Failure::Taken
            } else {
                Failure::Other(e)
            }
        })?;
        for q in &self.values {
            q.query()
                .execute(&mut *conn)
                .await
                .map_err(Failure::Other)?;
        }
        Ok(())
    }

    fn taken(&self) -> ScimError {
        ScimError::uniqueness("userName", self.user_name.trim())
    }

    /// Runs the statements inside the caller's transaction, failing as a client sees it.
    pub(crate) async fn insert_into(&self, conn: &mut AnyConnection) -> Result<(), ScimError> {
        self.insert(conn).await.map_err(|f| match f {
            Failure::Taken => self.taken(),
            Failure::Other(e) => db(e),
        })
    }

    /// Writes this user in a transaction of its own.
    pub(crate) async fn write_alone(
        &self,
        pool: &AnyPool,
        dialect: Dialect,
        tenants: &KnownTenants,
    ) -> Result<(), ScimError> {
        let mut tx = pool.begin().await.map_err(db)?;
        let recorded = tenants
            .ensure(&mut tx, dialect, &self.tenant)
            .await
            .map_err(db)?;
        self.insert_into(&mut tx).await?;
        tx.commit().await.map_err(db)?;
        if recorded {
            tenants.remember(&self.tenant);
        }
        Ok(())
    }
}

/// A create waiting for its batch, and where its outcome goes.
#[derive(Debug)]
struct Job {
    user: NewUser,
    done: oneshot::Sender<Result<(), ScimError>>,
}

/// The creates not yet taken into a batch, and whether a task is writing batches.
#[derive(Debug, Default)]
struct Queue {
    jobs: Vec<Job>,
    running: bool,
}

/// Writes the users created at about the same time in one transaction (see the module docs).
#[derive(Debug)]
pub(crate) struct Batcher {
    pool: AnyPool,
    dialect: Dialect,
    tenants: Arc<KnownTenants>,
    queue: Mutex<Queue>,
}

impl Batcher {
    /// A batcher writing through `pool` (SQLite's single writer connection).
    pub(crate) fn new(pool: AnyPool, dialect: Dialect, tenants: Arc<KnownTenants>) -> Arc<Self> {
        Arc::new(Batcher {
            pool,
            dialect,
            tenants,
            queue: Mutex::default(),
        })
    }

    fn queue(&self) -> MutexGuard<'_, Queue> {
        // The queue is consistent at every unlock (a push, or a drain), so a panic elsewhere
        // while it was held leaves nothing half done.
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Writes `user` and answers once its transaction has committed (or failed).
    pub(crate) async fn create(self: &Arc<Self>, user: NewUser) -> Result<(), ScimError> {
        let (done, outcome) = oneshot::channel();
        let start = {
            let mut queue = self.queue();
            queue.jobs.push(Job { user, done });
            !std::mem::replace(&mut queue.running, true)
        };
        if start {
            tokio::spawn(Arc::clone(self).run());
        }
        outcome.await.unwrap_or_else(|_| {
            Err(ScimError::other(
                StatusCode::INTERNAL_SERVER_ERROR,
                None,
                "the create was not written: the task writing its batch stopped",
            ))
        })
    }

    /// Writes batches until the queue is empty.
    async fn run(self: Arc<Self>) {
        let mut stop = StopGuard {
            batcher: &self,
            armed: true,
        };
        loop {
            let jobs = {
                let mut queue = self.queue();
                if queue.jobs.is_empty() {
                    // Under the lock: a create pushed after this sees `running` false and
                    // starts a task of its own.
                    queue.running = false;
                    stop.armed = false;
                    return;
                }
                let n = queue.jobs.len().min(MAX_BATCH);
                queue.jobs.drain(..n).collect::<Vec<_>>()
            };
            self.write(jobs).await;
        }
    }

    /// Writes `jobs` in one transaction, or each alone if that transaction fails as a whole.
    async fn write(&self, jobs: Vec<Job>) {
        match self.write_together(&jobs).await {
            Ok(outcomes) => {
                for (job, outcome) in jobs.into_iter().zip(outcomes) {
                    // The requester may have gone away; its user is written all the same.
                    let _ = job.done.send(outcome);
                }
            }
            Err(e) => {
                tracing::debug!(
                    target: "scim_sql::batch",
                    error = %e,
                    creates = jobs.len(),
                    "a batch of creates failed; writing each alone"
                );
                for job in jobs {
                    let outcome = job
                        .user
                        .write_alone(&self.pool, self.dialect, &self.tenants)
                        .await;
                    let _ = job.done.send(outcome);
                }
            }
        }
    }

    /// One transaction for all of `jobs`: each one's outcome, or the error that stopped it.
    async fn write_together(
        &self,
        jobs: &[Job],
    ) -> Result<Vec<Result<(), ScimError>>, sqlx::Error> {
        let mut tx = self.pool.begin().await?;
        let mut recorded: Vec<&str> = Vec::new();
        for job in jobs {
            let tenant = job.user.tenant.as_str();
            if !recorded.contains(&tenant)
                && self.tenants.ensure(&mut tx, self.dialect, tenant).await?
            {
                recorded.push(tenant);
            }
        }
        let mut outcomes = Vec::with_capacity(jobs.len());
        for job in jobs {
            outcomes.push(match job.user.insert(&mut tx).await {
                Ok(()) => Ok(()),
                Err(Failure::Taken) => Err(job.user.taken()),
                Err(Failure::Other(e)) => return Err(e),
            });
        }
        tx.commit().await?;
        for tenant in recorded {
            self.tenants.remember(tenant);
        }
        Ok(outcomes)
    }
}

/// Resets the queue if the task writing batches ends any other way than by finding it empty
/// (a panic): the creates still queued are answered with an error, not left waiting, and the
/// next create starts a new task.
struct StopGuard<'a> {
    batcher: &'a Batcher,
    armed: bool,
}

impl Drop for StopGuard<'_> {
    fn drop(&mut self) {
        if self.armed {
            let mut queue = self.batcher.queue();
            queue.running = false;
            // Dropping each `done` tells its requester the create was not written.
            queue.jobs.clear();
        }
    }
}
