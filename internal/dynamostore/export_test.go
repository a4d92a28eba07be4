package dynamostore

// EncodeTenant is encodeTenant, for the simulation's bulk load.
var EncodeTenant = encodeTenant
