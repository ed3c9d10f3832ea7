//! OPC UA services by the numeric node id of their binary encoding (OPC 10000-6, the
//! standard's NodeIds.csv), and what each does.

use crate::Operation;

/// A service message's name (its request or response), by encoding node id.
pub fn service_name(id: u32) -> Option<&'static str> {
    Some(match id {
        397 => "ServiceFault",
        422 => "FindServersRequest",
        425 => "FindServersResponse",
        428 => "GetEndpointsRequest",
        431 => "GetEndpointsResponse",
        437 => "RegisterServerRequest",
        440 => "RegisterServerResponse",
        446 => "OpenSecureChannelRequest",
        449 => "OpenSecureChannelResponse",
        452 => "CloseSecureChannelRequest",
        455 => "CloseSecureChannelResponse",
        461 => "CreateSessionRequest",
        464 => "CreateSessionResponse",
        467 => "ActivateSessionRequest",
        470 => "ActivateSessionResponse",
        473 => "CloseSessionRequest",
        476 => "CloseSessionResponse",
        479 => "CancelRequest",
        482 => "CancelResponse",
        488 => "AddNodesRequest",
        491 => "AddNodesResponse",
        494 => "AddReferencesRequest",
        497 => "AddReferencesResponse",
        500 => "DeleteNodesRequest",
        503 => "DeleteNodesResponse",
        506 => "DeleteReferencesRequest",
        509 => "DeleteReferencesResponse",
        527 => "BrowseRequest",
        530 => "BrowseResponse",
        533 => "BrowseNextRequest",
        536 => "BrowseNextResponse",
        554 => "TranslateBrowsePathsToNodeIdsRequest",
        557 => "TranslateBrowsePathsToNodeIdsResponse",
        560 => "RegisterNodesRequest",
        563 => "RegisterNodesResponse",
        566 => "UnregisterNodesRequest",
        569 => "UnregisterNodesResponse",
        615 => "QueryFirstRequest",
        618 => "QueryFirstResponse",
        621 => "QueryNextRequest",
        624 => "QueryNextResponse",
        631 => "ReadRequest",
        634 => "ReadResponse",
        664 => "HistoryReadRequest",
        667 => "HistoryReadResponse",
        673 => "WriteRequest",
        676 => "WriteResponse",
        700 => "HistoryUpdateRequest",
        703 => "HistoryUpdateResponse",
        712 => "CallRequest",
        715 => "CallResponse",
        751 => "CreateMonitoredItemsRequest",
        754 => "CreateMonitoredItemsResponse",
        763 => "ModifyMonitoredItemsRequest",
        766 => "ModifyMonitoredItemsResponse",
        769 => "SetMonitoringModeRequest",
        772 => "SetMonitoringModeResponse",
        775 => "SetTriggeringRequest",
        778 => "SetTriggeringResponse",
        781 => "DeleteMonitoredItemsRequest",
        784 => "DeleteMonitoredItemsResponse",
        787 => "CreateSubscriptionRequest",
        790 => "CreateSubscriptionResponse",
        793 => "ModifySubscriptionRequest",
        796 => "ModifySubscriptionResponse",
        799 => "SetPublishingModeRequest",
        802 => "SetPublishingModeResponse",
        826 => "PublishRequest",
        829 => "PublishResponse",
        832 => "RepublishRequest",
        835 => "RepublishResponse",
        841 => "TransferSubscriptionsRequest",
        844 => "TransferSubscriptionsResponse",
        847 => "DeleteSubscriptionsRequest",
        850 => "DeleteSubscriptionsResponse",
        12208 => "FindServersOnNetworkRequest",
        12209 => "FindServersOnNetworkResponse",
        12211 => "RegisterServer2Request",
        12212 => "RegisterServer2Response",
        _ => return None,
    })
}

/// What a service does (by its request's or response's id).
pub fn operation(id: u32) -> Operation {
    match id {
        631 | 634 | 664 | 667 | 527 | 530 | 533 | 536 | 554 | 557 | 615 | 618 | 621 | 624 | 751
        | 754 | 763 | 766 | 769 | 772 | 775 | 778 | 781 | 784 | 787 | 790 | 793 | 796 | 799
        | 802 | 826 | 829 | 832 | 835 | 841 | 844 | 847 | 850 | 560 | 563 | 566 | 569 => {
            Operation::Read
        }
        673 | 676 | 700 | 703 => Operation::Write,
        712 | 715 => Operation::Control,
        488 | 491 | 494 | 497 | 500 | 503 | 506 | 509 => Operation::Configuration,
        422 | 425 | 428 | 431 | 12208 | 12209 => Operation::Identify,
        467 | 470 => Operation::Authentication,
        _ => Operation::Session,
    }
}

/// A user identity token's kind, by its encoding node id.
pub fn token_kind(id: u32) -> Option<&'static str> {
    Some(match id {
        321 => "anonymous",
        324 => "username",
        327 => "certificate",
        940 => "issued",
        _ => return None,
    })
}

/// A security mode's name (MessageSecurityMode).
pub fn security_mode(m: u32) -> &'static str {
    match m {
        1 => "None",
        2 => "Sign",
        3 => "SignAndEncrypt",
        _ => "Invalid",
    }
}
