/**
 * Activity types (epilot's Entity API `ActivityType`): every entity write is part of an activity,
 * and a flow's `filter_config.activity.type` matches its type.
 */

/** The activity types of relation changes (`addRelations`, `removeRelations`, `deleteRelation`). */
export const RELATION_ACTIVITY = { added: 'RelationsAdded', removed: 'RelationsRemoved' } as const;

/**
 * epilot's own activity types: the built-in entity ones its `ActivityType` lists, and the portal,
 * meter-reading and document ones its automation definition names. They are epilot's to emit: an
 * activity created through the API must have a type of its own (createActivity refuses these), so
 * the ones ActionBridge does not emit itself can never happen here.
 */
export const RESERVED_ACTIVITY_TYPES: readonly string[] = [
  'EntityCreated',
  'EntityUpdated',
  'EntityDeleted',
  'EntitySoftDeleted',
  'EntityRestored',
  'RelationsAdded',
  'RelationsRemoved',
  'RelationsSoftDeleted',
  'RelationsRestored',
  'RelationsDeleted',
  'EntityUpdatedFromPortal',
  'DocUploadedFromPortal',
  'DocRemovedFromPortal',
  'DocDownloadedFromPortal',
  'CreateMeterReading',
  'UpdateMeterReading',
  'PortalUserResetPassword',
  'PortalUserResetForgotPassword',
  'SelfAssignmentFromPortal',
];
