//! Value types of the domain. Each type can only be built through a validating constructor,
//! so an invalid queue name, client id or TTL cannot exist past the transport boundary.
//! Nothing here does I/O.

pub mod catalogue;
pub mod clock;
pub mod ids;
pub mod limits;
pub mod message;
pub mod metadata;
pub mod names;
pub mod retry_policy;
pub mod subscriber;
pub mod subscription;

pub use catalogue::{Pool, PoolPatch};
pub use clock::{Clock, ManualClock, SystemClock, Timestamp};
pub use ids::{ClaimId, MessageId, SubscriptionId};
pub use limits::Limits;
pub use message::{MessageBody, NewMessage};
pub use metadata::QueueMetadata;
pub use names::{ClientId, ClientIdPolicy, ProjectId, QueueName};
pub use retry_policy::RetryPolicy;
pub use subscriber::{AddressPolicy, Target};
pub use subscription::SubscriptionSpec;
