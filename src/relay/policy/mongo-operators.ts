// The MongoDB operators a relay query may use. An allowlist, not a blocklist: an operator a future server
// adds (or a look-alike spelling of a dangerous one) is refused until someone reads it and adds it here.

const words = (s: string): ReadonlySet<string> => new Set(s.trim().split(/\s+/));

/** Never allowed, whatever the policy says: they write, or run JavaScript on the server. */
export const FORBIDDEN = words("$out $merge $function $accumulator $where");

/** Read-only stages allowed by default; a policy may add more through stages.allow (never FORBIDDEN). */
export const SAFE_STAGES = words(`
  $match $project $group $sort $limit $skip $unwind $count $addFields $set $unset $facet $lookup $graphLookup
  $unionWith $bucket $bucketAuto $sortByCount $replaceRoot $replaceWith $sample $densify $fill $setWindowFields
  $redact`);

/** Stages whose arguments name another collection. */
export const JOIN_STAGES = words("$lookup $graphLookup $unionWith");

/** Query (filter) operators, including geo and projection operators that appear in filters and projections. */
const QUERY_OPERATORS = `
  $eq $ne $gt $gte $lt $lte $in $nin $and $or $nor $not $exists $type $mod $regex $options $all $elemMatch $size
  $expr $jsonSchema $text $search $language $caseSensitive $diacriticSensitive $comment $geoWithin $geoIntersects
  $near $nearSphere $geometry $box $center $centerSphere $polygon $maxDistance $minDistance $bitsAllSet
  $bitsAnySet $bitsAllClear $bitsAnyClear $slice $meta $natural`;

/** Aggregation expression, accumulator and window operators. */
const EXPRESSION_OPERATORS = `
  $abs $add $ceil $divide $exp $floor $ln $log $log10 $multiply $pow $round $sqrt $subtract $trunc $arrayElemAt
  $arrayToObject $concatArrays $filter $first $last $firstN $lastN $indexOfArray $isArray $map $maxN $minN
  $objectToArray $range $reduce $reverseArray $sortArray $zip $cmp $cond $ifNull $switch $dateAdd $dateDiff
  $dateFromParts $dateFromString $dateSubtract $dateToParts $dateToString $dateTrunc $dayOfMonth $dayOfWeek
  $dayOfYear $hour $isoDayOfWeek $isoWeek $isoWeekYear $millisecond $minute $month $second $toDate $week $year
  $literal $getField $setField $unsetField $mergeObjects $allElementsTrue $anyElementTrue $setDifference
  $setEquals $setIntersection $setIsSubset $setUnion $concat $indexOfBytes $indexOfCP $ltrim $regexFind
  $regexFindAll $regexMatch $replaceOne $replaceAll $rtrim $split $strLenBytes $strLenCP $strcasecmp $substr
  $substrBytes $substrCP $toLower $toString $trim $toUpper $convert $isNumber $toBool $toDecimal $toDouble $toInt
  $toLong $toObjectId $let $avg $max $min $sum $stdDevPop $stdDevSamp $push $addToSet $count $top $topN $bottom
  $bottomN $median $percentile $sin $cos $tan $asin $acos $atan $atan2 $asinh $acosh $atanh $sinh $cosh $tanh
  $degreesToRadians $radiansToDegrees $binarySize $bsonSize $rand $sampleRate $tsIncrement $tsSecond
  $documentNumber $rank $denseRank $shift $derivative $integral $expMovingAvg $covariancePop $covarianceSamp
  $locf $linearFill`;

export const OPERATORS = words(`${QUERY_OPERATORS} ${EXPRESSION_OPERATORS}`);

/**
 * Operators that read a field by a computed name or the whole document ($text searches every field of the
 * collection's text index, which may cover a denied one): harmless once denied fields are removed, but in a
 * filter (which runs before any removal) they could test a denied field's value.
 */
export const WHOLE_DOCUMENT_READERS = words("$getField $setField $unsetField $objectToArray $text");
export const WHOLE_DOCUMENT_VARIABLES = words("$$ROOT $$CURRENT");

/** BSON values a query may carry as literals; Code (JavaScript), DBRef and anything unknown are refused. */
export const SAFE_BSON_TYPES = words(
  "ObjectId ObjectID Decimal128 Long Int32 Double Timestamp Binary BSONRegExp MinKey MaxKey",
);

/**
 * Characters that make a key look like something it is not: control (NUL included), format (zero-width, bidi,
 * BOM), unassigned or private-use, and the look-alike dollars (full-width, small).
 */
export const SUSPICIOUS_KEY = /[\p{Cc}\p{Cf}\p{Cn}\p{Co}\p{Cs}\uff04\ufe69]/u;
