/*
 * The error codes the platform answers a shadow request with, in `payload.content.errorcode`
 * (help.aliyun.com "设备影子JSON详解", document_detail/53932, the table "错误码"). They are text
 * on the wire (`"errorcode":"409"`); the reader also takes a number.
 */

/** The shadow's error codes, by what they mean. */
export const SHADOW_ERROR_CODES = Object.freeze({
  /** 不正确的JSON格式: the request is not JSON. */
  badJson: '400',
  /** 影子数据缺少method信息 */
  missingMethod: '401',
  /** 影子数据缺少state字段 */
  missingState: '402',
  /** 影子数据中version值不是数字 */
  badVersion: '403',
  /** 影子数据缺少reported字段 */
  missingReported: '404',
  /** 影子数据中reported属性字段为空 */
  emptyReported: '405',
  /** 影子数据中method是无效的方法 */
  badMethod: '406',
  /** 影子内容为空 */
  emptyShadow: '407',
  /** 影子数据中reported属性个数超过128个 */
  tooManyReported: '408',
  /** 影子版本冲突: the version sent is not above the shadow's. */
  versionConflict: '409',
  /** 服务端处理异常 */
  serverError: '500',
});

/** The most reported properties a shadow holds (the page's code 408). */
export const SHADOW_MAX_REPORTED = 128;
