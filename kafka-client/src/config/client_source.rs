//! Where a consumer's client comes from: its own, built from a [`ClientBuilder`] when
//! the consumer is built, or an existing [`Client`] shared with others. One owner for
//! the `bootstrap_servers` / `client_builder` / `client` setters of the consumer and
//! share-consumer builders.

use crate::client::Client;
use crate::error::Result;

use super::ClientBuilder;

/// A builder's client: its own (still to build) or a shared one.
#[derive(Clone)]
pub(crate) enum ClientSource {
    /// Built when the consumer is built.
    Builder(Box<ClientBuilder>),
    /// An existing client (its connections and metadata cache).
    Shared(Client),
}

impl Default for ClientSource {
    fn default() -> Self {
        Self::Builder(Box::new(ClientBuilder::new()))
    }
}

impl ClientSource {
    /// Sets the bootstrap servers of an own client; a shared client keeps its own.
    pub(crate) fn with_bootstrap_servers<I, S>(self, servers: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        match self {
            Self::Builder(b) => Self::Builder(Box::new(b.bootstrap_servers(servers))),
            shared => shared,
        }
    }

    /// The client: the shared one, or the own one built now.
    pub(crate) fn into_client(self) -> Result<Client> {
        match self {
            Self::Shared(c) => Ok(c),
            Self::Builder(b) => (*b).build(),
        }
    }
}
